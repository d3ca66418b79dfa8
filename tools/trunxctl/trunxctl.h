/* trunxctl.h — trunxctl's reply formatting (trunxctl_fmt.c). */
#ifndef TRUNXCTL_H
#define TRUNXCTL_H

#include <jansson.h>
#include <stdio.h>

/** Prints a successful reply's result for humans. cmd is the protocol command name. */
void trunxctl_print(FILE *out, const char *cmd, const json_t *result);

#endif
