# fish completion for vz. Every candidate comes from the binary itself (`vz __complete WORD...`).
function __vz_complete
	set -l words (commandline -opc)
	set -e words[1]
	set -l current (commandline -ct)
	for line in (vz __complete $words "$current" 2>/dev/null)
		switch $line
			case __files__
				__fish_complete_path "$current"
			case __dirs__
				__fish_complete_directories "$current"
			case '*'
				echo $line
		end
	end
end
complete -c vz -f -a '(__vz_complete)'
