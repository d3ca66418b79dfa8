trunx_add_fuzzer(dtmf_det trunx_dsp)
