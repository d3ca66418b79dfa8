trunx_add_fuzzer(srtp trunx_media)
