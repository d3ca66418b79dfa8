/* kfwd_obj.h — the compiled tc program (kfwd_tc.bpf), embedded by the build. */
#ifndef TRUNX_KFWD_OBJ_H
#define TRUNX_KFWD_OBJ_H

#include <stddef.h>

extern const unsigned char kfwd_tc_obj[];
extern const size_t kfwd_tc_obj_len;

#endif
