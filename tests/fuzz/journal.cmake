trunx_add_fuzzer(journal trunx_core)
