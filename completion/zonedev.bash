# bash completion for zonedev. Everything it offers is asked of the zonedev
# being completed (its --help texts and `run --list-steps`), so a new
# command, option, benchmark, arch or scenario step completes without an
# edit here. Installed as share/bash-completion/completions/zonedev.

# The words of a help section ("commands:", "benchmarks:"): first column.
_zonedev_section() {
	"$1" "${@:3}" --help 2>/dev/null |
		awk -v s="$2:" '$0 == s { on = 1; next } /^[^ ]/ { on = 0 }
			on && /^  [a-z]/ { print $1 }'
}

# Every --long and -s option a help text shows.
_zonedev_options() {
	"$@" --help 2>/dev/null | grep -oE '(^|[ ,[])--?[a-zA-Z][a-zA-Z0-9-]*' |
		sed 's/^[ ,[]//' | sort -u
}

# Arch profile names, from the option text that lists them.
_zonedev_arches() {
	"$1" iomem --help 2>/dev/null |
		sed -n 's/.*architecture profile (default [^)]*): //p' | tr -d ',' | tr ' ' '\n'
}

_zonedev_steps() {
	"$1" run --list-steps 2>/dev/null | sed -n 's/^\([a-z_0-9]*\)\( VALUE\)\{0,1\}: .*/\1/p'
}

_zonedev() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local zd=${COMP_WORDS[0]} cmd=${COMP_WORDS[1]:-} i
	COMPREPLY=()
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "$(_zonedev_section "$zd" commands) --help --version" -- "$cur"))
		return
	fi
	case $prev in
	--arch) COMPREPLY=($(compgen -W "$(_zonedev_arches "$zd")" -- "$cur")); return ;;
	--import|--dir|-o|--output|--machine) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	esac
	case $cmd in
	help)
		[ "$COMP_CWORD" -eq 2 ] &&
			COMPREPLY=($(compgen -W "$(_zonedev_section "$zd" commands)" -- "$cur"))
		return ;;
	bench)
		if [ "$COMP_CWORD" -eq 2 ]; then
			COMPREPLY=($(compgen -W "$(_zonedev_section "$zd" benchmarks bench)" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_zonedev_options "$zd" bench "${COMP_WORDS[2]}")" -- "$cur"))
		fi
		return ;;
	run)
		for ((i = 2; i < COMP_CWORD; i++)); do
			if [ "${COMP_WORDS[i]}" = --list-steps ]; then
				COMPREPLY=($(compgen -W "$(_zonedev_steps "$zd") --json" -- "$cur"))
				return
			fi
		done ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_zonedev_options "$zd" "$cmd")" -- "$cur"))
	elif [ "$cmd" = run ] || [ "$cmd" = map ]; then
		# their operand is a scenario
		COMPREPLY=($(compgen -f -X '!*.yaml' -- "$cur") $(compgen -f -X '!*.yml' -- "$cur")
			   $(compgen -d -- "$cur"))
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}
complete -F _zonedev zonedev
