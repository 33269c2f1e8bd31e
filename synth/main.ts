/**
 * The cdk8s app (`cdk8s synth`, see cdk8s.yaml): the whole bundle with default values into
 * $CDK8S_OUTDIR (default dist/cdk8s). Values files given as arguments are merged over the defaults the way
 * `helm -f` merges them, so `node dist/synth/main.js my-values.yaml` matches `helm template -f my-values.yaml`.
 */
import * as fs from 'fs';
import * as yaml from 'js-yaml';
import { App } from 'cdk8s';
import { KubeDevicePluginsChart } from './chart';
import { defaultValues, mergeValues } from './values';

export function valuesFromFiles(files: string[]) {
  return files.reduce(
    (values, file) => mergeValues(values, yaml.load(fs.readFileSync(file, 'utf8'))),
    defaultValues(),
  );
}

if (require.main === module) {
  const app = new App({ outdir: process.env.CDK8S_OUTDIR ?? 'dist/cdk8s' });
  new KubeDevicePluginsChart(app, 'kube-device-plugins', { values: valuesFromFiles(process.argv.slice(2)) });
  app.synth();
}
