trunx_add_fuzzer(jb trunx_media)
