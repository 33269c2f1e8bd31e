#!/bin/sh
# OCI hook of the kube-device-plugins netdevice plugin (--cdi-mode=hooks): hands a host network interface
# to a container and gives it back afterwards. The container runtime runs it from the CDI spec:
#
#   netdevice-hook.sh createRuntime IFNAME   move IFNAME from the host into the container's network
#                                            namespace, keeping its IPv4/IPv6 addresses, MTU and up state
#   netdevice-hook.sh poststop IFNAME        move IFNAME back to the host with the addresses, MTU and up
#                                            state it had on the host
#
# The OCI state ({"ociVersion","id","status","pid","bundle",...}) arrives as JSON on stdin; the network
# namespace is taken from <bundle>/config.json (linux.namespaces, type "network": its path, or the
# container's pid when the runtime creates the namespace).
#
# It runs on the node, where Node.js may not exist: it needs only a POSIX shell and utilities (cat, sed, tr,
# head, ls, mkdir, mv, rm), iproute2 (ip) and util-linux (nsenter).
#
# Exit status: 0 done (or nothing to do, said on stderr), 1 the change failed (what was done is undone as
# far as possible), 2 bad usage or input. Bad input is detected before anything is changed.
#
# Environment: NETDEVICE_HOOK_STATE_DIR (default /run/kube-device-plugins/netdevice-hook) keeps, per
# interface, the host configuration saved at createRuntime for poststop.

set -u # no -e: every failure is checked and reported explicitly
set -f # addresses are split into ip arguments; never glob them
unset IFS # ...on blanks, whatever the runtime's environment says

PATH="${PATH:+$PATH:}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
export PATH
STATE_DIR="${NETDEVICE_HOOK_STATE_DIR:-/run/kube-device-plugins/netdevice-hook}"

say() { printf 'netdevice-hook %s %s: %s\n' "${STAGE:-?}" "${IFNAME:-?}" "$*" >&2; }
fail() { say "error: $*"; exit 1; }
bad_input() { say "error: $*"; exit 2; }

# ---- reading the OCI state and bundle ------------------------------------------------------------------

# First top-level string value of key $2 in the JSON text $1 (runtimes write these fields first, before
# any nested annotations that could reuse the name).
json_string() {
  printf '%s' "$1" | tr ',{}\n' '\n\n\n ' |
    sed -n 's/^[[:space:]]*"'"$2"'"[[:space:]]*:[[:space:]]*"\([^"]*\)"[[:space:]]*$/\1/p' | head -n 1
}

json_number() {
  printf '%s' "$1" | tr ',{}\n' '\n\n\n ' |
    sed -n 's/^[[:space:]]*"'"$2"'"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\)[[:space:]]*$/\1/p' | head -n 1
}

# The container's network namespace from config.json $1: a path, "new" (namespace without a path: the
# runtime created it for the container's process), "none" (the container shares the runtime's), or
# "malformed" (no linux.namespaces at all).
network_namespace() {
  namespaces=$(tr '\n' ' ' <"$1" | sed -n 's/.*"namespaces"[[:space:]]*:[[:space:]]*\[\([^]]*\)\].*/\1/p')
  case $namespaces in '') echo malformed; return ;; esac
  entry=$(printf '%s' "$namespaces" | tr '}' '\n' | sed -n '/"type"[[:space:]]*:[[:space:]]*"network"/{p;q;}')
  case $entry in '') echo none; return ;; esac
  ns_path=$(printf '%s' "$entry" | sed -n 's/.*"path"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
  echo "${ns_path:-new}"
}

# ---- links and their configuration ---------------------------------------------------------------------

# Run a command in network namespace $1 (empty: the runtime's own, where this hook runs).
in_ns() {
  ns=$1
  shift
  if [ -z "$ns" ]; then "$@" </dev/null; else nsenter --net="$ns" "$@" </dev/null; fi
}

link_in() { in_ns "$1" ip link show dev "$IFNAME" >/dev/null 2>&1; }

# One `ip -o addr` line → the `ip addr replace` arguments that recreate it, or nothing for addresses the
# kernel or an autoconfiguration daemon owns (IPv6 link-local, dynamic/SLAAC).
address_args() {
  set -- $1
  [ $# -ge 4 ] || return 0
  family=$3 args=$4 scope=global keep=yes
  shift 4
  while [ $# -gt 0 ]; do
    case $1 in
      *\\*) break ;; # end of the address part: lifetimes follow
      peer | brd | metric)
        [ $# -ge 2 ] || break
        args="$args $1 $2"
        shift 2
        ;;
      scope)
        [ $# -ge 2 ] || break
        scope=$2
        shift 2
        ;;
      dynamic)
        keep=no
        shift
        ;;
      noprefixroute | nodad)
        args="$args $1"
        shift
        ;;
      *) shift ;; # label, secondary, tentative, ...: not part of what we restore
    esac
  done
  [ "$family" = inet6 ] && [ "$scope" = link ] && keep=no
  [ "$keep" = yes ] || return 0
  [ "$scope" = global ] || args="$args scope $scope"
  printf 'addr %s\n' "$args"
}

# The configuration a move into another namespace wipes, as state lines: mtu, up, addr.
capture_config() {
  line=$(in_ns "$1" ip -o link show dev "$IFNAME") || return 1
  mtu=$(printf '%s\n' "$line" | sed -n 's/.* mtu \([0-9][0-9]*\) .*/\1/p')
  flags=$(printf '%s\n' "$line" | sed -n 's/^[^<]*<\([^>]*\)>.*/\1/p')
  case ",$flags," in *,UP,*) up=yes ;; *) up=no ;; esac
  printf 'mtu %s\nup %s\n' "$mtu" "$up"
  addresses=$(in_ns "$1" ip -o addr show dev "$IFNAME") || return 1
  printf '%s\n' "$addresses" | while IFS= read -r addr_line; do
    [ -n "$addr_line" ] && address_args "$addr_line"
  done
  return 0
}

# Apply state file $2 to the link in namespace $1. Every step is tried; returns non-zero if any failed.
apply_config() {
  status=0 want_up=no
  while read -r key value; do
    case $key in
      mtu) [ -z "$value" ] || in_ns "$1" ip link set dev "$IFNAME" mtu "$value" || status=1 ;;
      up) want_up=$value ;;
      addr) in_ns "$1" ip addr replace $value dev "$IFNAME" || status=1 ;;
    esac
  done <"$2"
  if [ "$want_up" = yes ]; then in_ns "$1" ip link set dev "$IFNAME" up || status=1; fi
  return $status
}

# Move the link from namespace $1 to the namespace named by $2 (a path, or a pid).
move_link() { in_ns "$1" ip link set dev "$IFNAME" netns "$2"; }

inode_of() {
  set -- $(ls -iLd "$1" 2>/dev/null)
  printf '%s' "${1:-}"
}

same_namespace() { [ "$(inode_of "$1")" = "$(inode_of "/proc/$$/ns/net")" ]; }

# ---- the two stages ------------------------------------------------------------------------------------

create_runtime() {
  if ! link_in ""; then
    if [ -e "$NETNS" ] && link_in "$NETNS"; then
      say "already in the container's network namespace $NETNS; nothing to do"
      exit 0
    fi
    fail "link $IFNAME is not in the host network namespace (gone, or held by another pod?)"
  fi
  mkdir -p "$STATE_DIR" || fail "cannot create state directory $STATE_DIR"
  saved="$STATE_DIR/$IFNAME" temp="$STATE_DIR/.$IFNAME.$$"
  { printf 'container %s\n' "$CONTAINER_ID" && capture_config ""; } >"$temp" ||
    { rm -f "$temp"; fail "cannot read the configuration of $IFNAME"; }
  mv -f "$temp" "$saved" || { rm -f "$temp"; fail "cannot save the configuration to $saved"; }

  move_link "" "$NETNS" || { rm -f "$saved"; fail "cannot move $IFNAME into $NETNS"; }
  if ! apply_config "$NETNS" "$saved"; then
    say "cannot configure $IFNAME inside $NETNS; moving it back to the host"
    move_link "$NETNS" "$$" && apply_config "" "$saved"
    rm -f "$saved"
    exit 1
  fi
  say "moved into $NETNS with its addresses, MTU and up state"
}

post_stop() {
  saved="$STATE_DIR/$IFNAME"
  if [ -n "$NETNS" ] && [ -e "$NETNS" ] && link_in "$NETNS"; then
    if [ ! -f "$saved" ]; then
      say "no saved host configuration in $saved; restoring what the link has in the container"
      capture_config "$NETNS" >"$saved" || fail "cannot read the configuration of $IFNAME in $NETNS"
    fi
    move_link "$NETNS" "$$" || fail "cannot move $IFNAME back to the host (is the name taken there?)"
  elif link_in ""; then
    # The namespace died first: the kernel already returned a physical link to the host.
    [ -f "$saved" ] || { say "already on the host and nothing saved; nothing to do"; exit 0; }
    say "already back on the host; restoring its configuration"
  else
    fail "link $IFNAME is neither in the container's network namespace (${NETNS:-gone}) nor on the host"
  fi
  apply_config "" "$saved" || fail "back on the host, but some of its configuration could not be restored"
  rm -f "$saved"
  say "back on the host with its addresses, MTU and up state"
}

# ---- input checks (nothing is changed before they all pass) -------------------------------------------

STAGE=${1:-}
IFNAME=${2:-}
case $STAGE in
  createRuntime | poststop) ;;
  *) bad_input "usage: netdevice-hook.sh createRuntime|poststop IFNAME (OCI state on stdin)" ;;
esac
case $IFNAME in
  '' | */* | *[[:space:]]*) bad_input "invalid interface name \"$IFNAME\"" ;;
esac

STATE=$(cat)
[ -n "$STATE" ] || bad_input "no OCI state on stdin"
BUNDLE=$(json_string "$STATE" bundle)
CONTAINER_ID=$(json_string "$STATE" id)
PID=$(json_number "$STATE" pid)
[ -n "$BUNDLE" ] || bad_input "the OCI state on stdin names no bundle"
[ -d "$BUNDLE" ] || bad_input "bundle $BUNDLE does not exist"
[ -r "$BUNDLE/config.json" ] || bad_input "bundle $BUNDLE has no readable config.json"

NETNS=$(network_namespace "$BUNDLE/config.json")
case $NETNS in
  malformed) bad_input "$BUNDLE/config.json has no linux.namespaces" ;;
  none)
    say "the container shares the runtime's network namespace; $IFNAME stays where it is"
    exit 0
    ;;
  new)
    # The runtime made the namespace for the container's process. At poststop that process is gone (and
    # its pid may already be someone else's), so only the host is left to look at.
    NETNS=""
    if [ "$STAGE" = createRuntime ]; then
      [ -n "$PID" ] || bad_input "the container's network namespace has no path and the state no pid"
      NETNS="/proc/$PID/ns/net"
    fi
    ;;
esac

if [ "$STAGE" = poststop ]; then
  post_stop
  exit 0
fi
[ -e "$NETNS" ] || bad_input "network namespace $NETNS does not exist"
if same_namespace "$NETNS"; then
  say "the container's network namespace is the runtime's; $IFNAME stays where it is"
  exit 0
fi
create_runtime
exit 0
