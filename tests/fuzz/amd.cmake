trunx_add_fuzzer(amd trunx_dsp)
