/* targets.h: commands that act on "COLL... | --all" share how the list is made. */
#ifndef VZ_CMD_TARGETS_H
#define VZ_CMD_TARGETS_H

#include "cli.h"

/* Fills *names (malloc'd array of malloc'd strings) with the positional names, or with every
 * collection when all is set. Prints a usage error when neither or both are given. */
int vz_cli_targets(struct vz_cli *cli, struct vz_args *args, bool all, char ***names, int *n);
void vz_cli_targets_free(char **names, int n);

#endif
