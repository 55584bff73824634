/*
 * libFuzzer target for the configuration loader: arbitrary bytes as the JSON
 * text given to config_load_string. Every accepted configuration is also
 * queried (config_find_table) and freed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    config_err_t kind = CONFIG_OK;
    char *json = malloc(size + 1);

    if (json == NULL)
        return 0;
    memcpy(json, data, size);
    json[size] = '\0';
    config_t *cfg = config_load_string(json, &kind, err, sizeof(err));
    if (cfg != NULL) {
        (void)config_find_table(cfg, "public", "users");
        for (int i = 0; i < cfg->ntables; i++)
            (void)config_find_table(cfg, cfg->tables[i].source.schema, cfg->tables[i].source.name);
    } else if (memchr(err, '\0', sizeof(err)) == NULL) {
        abort(); /* an error message must be a terminated string */
    }
    config_free(cfg);
    free(json);
    return 0;
}
