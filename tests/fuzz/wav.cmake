trunx_add_fuzzer(wav trunx_dsp)
