# shellcheck shell=bash
# Sourced after env.sh: selects (creating if needed) a stack in the file backend, with the
# passphrase handled — local stacks use a fixed one, other stacks need PULUMI_CONFIG_PASSPHRASE.
select_stack() {
  local stack="$1"
  mkdir -p "${PULUMI_BACKEND_URL#file://}"
  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    case "$stack" in
      local | local-*) export PULUMI_CONFIG_PASSPHRASE="$INCEPTION_LOCAL_PASSPHRASE" ;;
      *) die "stack $stack keeps secrets (kubeconfig, registry credentials): set PULUMI_CONFIG_PASSPHRASE" ;;
    esac
  fi
  pulumi stack select --create --stack "$stack" >/dev/null
}
