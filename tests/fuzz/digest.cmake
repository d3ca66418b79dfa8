trunx_add_fuzzer(digest trunx_core)
