trunx_add_fuzzer(prompt trunx_media)
