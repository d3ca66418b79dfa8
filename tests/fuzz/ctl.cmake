trunx_add_fuzzer(ctl trunx_core)
