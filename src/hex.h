/*
 * hex: the value of a hexadecimal digit, for the parsers of LSNs and of
 * PostgreSQL's bytea hex form. Pure; no I/O.
 */
#ifndef SYNCLINE_HEX_H
#define SYNCLINE_HEX_H

/* 0-15 for [0-9a-fA-F], -1 for anything else. */
int hex_digit(char c);

#endif
