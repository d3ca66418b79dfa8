trunx_add_fuzzer(db_rows trunx_core)
