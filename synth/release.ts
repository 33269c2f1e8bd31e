/**
 * Names and labels, the Helm way: every object's name starts with the release's *fullname*, and every object
 * carries the standard labels (app.kubernetes.io/name, instance, version, managed-by, component, and
 * helm.sh/chart), so two releases never collide, cluster-scoped objects included.
 *
 * The release is set once on a chart (`setRelease`) and read by every construct below it (`releaseOf`); a
 * construct used on its own gets the default release, named `kube-device-plugins`. In template mode the fields
 * are tokens for the chart's helpers (`kdp.fullname`, …), whose Go template twins are below.
 */
import { IConstruct } from 'constructs';
import { APP_NAME, packageVersion } from './common';
import { defineDerivation, isSymbolic, symbolic, token } from './helm/symbolic';

export interface Release {
  /** Prefix of every object name: the release name, plus the chart name unless the release name holds it. */
  readonly fullname: string;
  /** `app.kubernetes.io/name`: the chart name, or nameOverride. */
  readonly name: string;
  /** `app.kubernetes.io/instance`: the release name. */
  readonly instance: string;
  /** `app.kubernetes.io/version`: the chart's appVersion. */
  readonly version: string;
  /** `app.kubernetes.io/managed-by`: `Helm` under Helm. */
  readonly managedBy: string;
  /** `helm.sh/chart`: `<chart>-<version>`. */
  readonly chart: string;
  /** The chart's appVersion (the package version): the default image tag. */
  readonly appVersion: string;
}

export interface ReleaseOptions {
  /** Default `kube-device-plugins`. */
  readonly releaseName?: string;
  /** Replaces the chart name in names and the name label (`nameOverride`). */
  readonly nameOverride?: string;
  /** Replaces the whole name prefix (`fullnameOverride`). */
  readonly fullnameOverride?: string;
  /** Default `cdk8s`; Helm says `Helm`. */
  readonly managedBy?: string;
}

/** Kubernetes names and label values stop at 63 characters, and must not end in `-`. */
function trunc63(text: string): string {
  return text.slice(0, 63).replace(/-+$/, '');
}

/** The release, exactly as the chart's `kdp.*` helpers compute it. */
export function release(options: ReleaseOptions = {}): Release {
  const releaseName = options.releaseName ?? APP_NAME;
  const name = trunc63(options.nameOverride || APP_NAME);
  let fullname: string;
  if (options.fullnameOverride) fullname = trunc63(options.fullnameOverride);
  else if (releaseName.includes(name)) fullname = trunc63(releaseName);
  else fullname = trunc63(`${releaseName}-${name}`);
  const version = packageVersion();
  return {
    fullname,
    name,
    instance: trunc63(releaseName),
    version: trunc63(version),
    managedBy: options.managedBy ?? 'cdk8s',
    chart: trunc63(`${APP_NAME}-${version}`.replace(/\+/g, '_')),
    appVersion: version,
  };
}

/** The helpers the chart's `_helpers.tpl` defines, the Go template twins of {@link release}. */
export const RELEASE_HELPERS: Record<string, string> = {
  'kdp.name': '{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}',
  'kdp.fullname': `{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := include "kdp.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}`,
  'kdp.chart':
    '{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}',
  // `.` is (list $ "<component>").
  'kdp.componentName':
    '{{- printf "%s-%s" (include "kdp.fullname" (index . 0)) (index . 1) | trunc 63 | trimSuffix "-" }}',
};

/** The release as tokens for the helpers above (template mode). */
export function symbolicRelease(): Release {
  return {
    fullname: symbolic('str', 'include "kdp.fullname" $'),
    name: symbolic('str', 'include "kdp.name" $'),
    instance: symbolic('str', '$.Release.Name | trunc 63 | trimSuffix "-"'),
    version: symbolic('str', '$.Chart.AppVersion | trunc 63 | trimSuffix "-"'),
    managedBy: symbolic('str', '$.Release.Service'),
    chart: symbolic('str', 'include "kdp.chart" $'),
    appVersion: symbolic('str', '$.Chart.AppVersion'),
  };
}

const RELEASE_CONTEXT = 'kube-device-plugins:release';

/** Sets the release of every construct under `scope` (call it before adding them). */
export function setRelease(scope: IConstruct, value: Release): void {
  scope.node.setContext(RELEASE_CONTEXT, value);
}

/** The release `scope` belongs to (the default one when none was set). */
export function releaseOf(scope: IConstruct): Release {
  return (scope.node.tryGetContext(RELEASE_CONTEXT) as Release | undefined) ?? release();
}

/** `<fullname>-<component>`, cut to 63 characters: the name of a plugin's DaemonSet, NodeFeatureRule, policies. */
export function objectName(scope: IConstruct, component: string): string {
  const { fullname } = releaseOf(scope);
  if (isSymbolic(fullname))
    return token('str', `include "kdp.componentName" (list $ ${JSON.stringify(component)})`);
  return trunc63(`${fullname}-${component}`);
}

/** The labels that select a component's pods: stable for the life of a release (a selector cannot change). */
export function selectorLabels(scope: IConstruct, component: string): Record<string, string> {
  const r = releaseOf(scope);
  return {
    'app.kubernetes.io/name': r.name,
    'app.kubernetes.io/instance': r.instance,
    'app.kubernetes.io/component': component,
  };
}

/** Every label an object of `component` carries. */
export function componentLabels(scope: IConstruct, component: string): Record<string, string> {
  const r = releaseOf(scope);
  return {
    ...selectorLabels(scope, component),
    'app.kubernetes.io/version': r.version,
    'app.kubernetes.io/managed-by': r.managedBy,
    'helm.sh/chart': r.chart,
  };
}

/**
 * The image every container runs: `<repository>@<digest>` when a digest is given, else
 * `<repository>:<tag>`, the tag defaulting to the chart's appVersion.
 */
export const imageReference = defineDerivation({
  name: 'kdp.image',
  compute: (image: { repository: string; tag: string; digest: string; appVersion: string }) =>
    image.digest
      ? `${image.repository}@${image.digest}`
      : `${image.repository}:${image.tag || image.appVersion}`,
  template: `{{- if .digest -}}
{{- printf "%s@%s" .repository .digest -}}
{{- else -}}
{{- printf "%s:%s" .repository (default .appVersion .tag) -}}
{{- end -}}`,
});
