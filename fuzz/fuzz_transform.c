/*
 * libFuzzer target for transform's expression scanners: the first line of the
 * input is the expression, the following lines are the source column names.
 * transform_expr_ok, transform_expr_refs and transform_expr_column run on it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/transform.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_COLS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const defaults[] = {"id", "name", "Email", "a b", "x\"y", "ünï"};
    const char *cols[FUZZ_MAX_COLS];
    uint8_t refs[FUZZ_MAX_COLS];
    char err[256];
    int ncols = 0;
    char *text = malloc(size + 1);

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    for (char *nl = strchr(text, '\n'); nl != NULL && ncols < FUZZ_MAX_COLS;
         nl = strchr(nl + 1, '\n')) {
        *nl = '\0';
        cols[ncols++] = nl + 1;
    }
    if (ncols == 0)
        for (; ncols < (int)(sizeof(defaults) / sizeof(defaults[0])); ncols++)
            cols[ncols] = defaults[ncols];
    memset(refs, 0, sizeof(refs));
    (void)transform_expr_ok(text, err, sizeof(err));
    transform_expr_refs(text, cols, ncols, refs);
    int c = transform_expr_column(text, cols, ncols);
    if (c < -1 || c >= ncols)
        abort();
    free(text);
    return 0;
}
