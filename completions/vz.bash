# bash completion for vz. Every candidate comes from the binary itself (`vz __complete WORD...`),
# so commands, options, choices and collection names never go stale here.
_vz()
{
	local cur=${COMP_WORDS[COMP_CWORD]}
	local line
	local -a words=("${COMP_WORDS[@]:1:COMP_CWORD}")
	COMPREPLY=()
	while IFS= read -r line; do
		case $line in
		__files__) compopt -o filenames 2>/dev/null; COMPREPLY+=($(compgen -f -- "$cur")) ;;
		__dirs__) compopt -o filenames 2>/dev/null; COMPREPLY+=($(compgen -d -- "$cur")) ;;
		*) COMPREPLY+=("$line") ;;
		esac
	done < <("${COMP_WORDS[0]}" __complete "${words[@]}" 2>/dev/null)
}
complete -F _vz vz
