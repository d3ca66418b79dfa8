trunx_add_fuzzer(conf trunx_core)
