/**
 * SIGTERM/SIGINT handlers installed on import, before anything heavy loads (gRPC, prom-client, YAML,
 * the families): loading alone takes a few hundred milliseconds, and a signal in that window used to
 * kill the process by the signal instead of the clean exit 0 the README promises. Nothing exists yet
 * that needs cleaning up (no socket, no spec, no listener), so exiting 0 is the whole shutdown. Once
 * runCommand has installed its own handlers (which remove sockets first), these step aside.
 * Imported first by the bin and by main.ts; this module imports nothing.
 */
const onEarlySignal = (signal: NodeJS.Signals): void => {
  if (process.listenerCount(signal) === 1) process.exit(0); // only ours: still starting up
};

process.on('SIGTERM', onEarlySignal);
process.on('SIGINT', onEarlySignal);
