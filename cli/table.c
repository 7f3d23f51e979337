/* table.c: the command table (generated from the cmd/ files into build/commands.h) and lookup by name.
 * Its own file, depending on nothing of the frame, so that main (vz.c), the help printer and
 * option parser (cli.c) and the completer (complete.c) depend on it and it on none of them. */
#include "cli.h"

#include <string.h>

#define VZ_CMD(name) extern const struct vz_command vz_cmd_##name;
#include "commands.h"
#undef VZ_CMD

#define VZ_CMD(name) &vz_cmd_##name,
const struct vz_command *const vz_commands[] = {
#include "commands.h"
};
#undef VZ_CMD
const int vz_ncommands = VZ_NOPTS(vz_commands);

const struct vz_command *vz_find_command(const char *name)
{
	for (int i = 0; i < vz_ncommands; i++)
		if (!strcmp(vz_commands[i]->name, name)) return vz_commands[i];
	return NULL;
}
