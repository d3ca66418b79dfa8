# embed.cmake — writes the BPF object IN as a C array into OUT (cmake -P).
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n" body "${body}")
file(WRITE "${OUT}" "/* Generated from kfwd_tc.bpf by media/kfwd/embed.cmake. */\n"
     "#include \"kfwd_obj.h\"\n\nconst unsigned char kfwd_tc_obj[] = {\n${body}\n};\n"
     "const size_t kfwd_tc_obj_len = ${bytes};\n")
