/* The pages' own files (the CSS and script under ui/), compiled into the program by
 * cmake/embed_assets.cmake: nothing a page uses comes from anywhere else. */
#include <string.h>

#include "mrfweb.h"

extern const struct web_asset web_assets[];
extern const size_t web_asset_count;

const struct web_asset *web_asset_find(const char *name)
{
    for (size_t i = 0; i < web_asset_count; i++)
        if (strcmp(web_assets[i].name, name) == 0)
            return &web_assets[i];
    return NULL;
}
