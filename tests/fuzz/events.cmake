trunx_add_fuzzer(events trunx_core)
