/**
 * A configuration the plugin was given (a file, a ConfigMap) is invalid. Distinct from UsageError (a bad flag,
 * exit 2 at start): at start a family's command turns it into a UsageError naming the flag; on a reload the
 * family keeps serving its last good configuration and logs the error (docs/PLUGIN-GUIDE.md).
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
