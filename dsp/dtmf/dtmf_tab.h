/*
 * dtmf_tab.h — the DTMF frequency plan shared by the detector and the generator.
 * Tones 0-3 are the low group (rows), 4-7 the high group (columns); digit index
 * = row * 4 + column.
 */
#ifndef TRUNX_DTMF_TAB_H
#define TRUNX_DTMF_TAB_H

static const float dtmf_tab_freq[8] = {
	697.0f, 770.0f, 852.0f, 941.0f, 1209.0f, 1336.0f, 1477.0f, 1633.0f,
};

static const char dtmf_tab_digit[16] = {
	'1', '2', '3', 'A',
	'4', '5', '6', 'B',
	'7', '8', '9', 'C',
	'*', '0', '#', 'D',
};

#endif
