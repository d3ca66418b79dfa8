trunx_add_fuzzer(telev trunx_media)
