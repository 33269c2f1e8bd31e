/**
 * The process entry of `kube-device-plugins`, from which scripts/bundle.js builds the single file the bin runs
 * (dist/bundle/kube-device-plugins.js). Signal handlers first, before the heavy modules load: a SIGTERM during
 * start-up must exit 0.
 */
import './early-signals';
import { main } from './main';

main(process.argv.slice(2));
