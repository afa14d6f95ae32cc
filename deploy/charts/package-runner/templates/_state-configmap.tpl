{{/*
Optional (rbac.createStateConfigMap, default false): the language's state ConfigMap,
created empty by the release. Not needed for RBAC — the runner's server-side apply
creates it, and the Role allows that by name — but useful where the ConfigMap must exist
before the first run (`pkgrun state sync` then finds it empty instead of missing).
It carries no `data`: pkgrun owns the keys through server-side apply (field manager
`pkgrun`), and Helm's three-way merge leaves fields it never rendered alone on upgrade.
`helm.sh/resource-policy: keep` keeps the published state when the release is
uninstalled. Do not turn it on where the ConfigMap already exists (created by an earlier
run): Helm refuses to adopt an object without its ownership metadata.
*/}}
{{- define "package-runner.state-configmap" -}}
{{- if .Values.rbac.createStateConfigMap -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Values.stateConfigMap }}
  namespace: {{ include "package-runner.namespace" . }}
  labels:
    {{- include "package-runner.labels" . | nindent 4 }}
    app.kubernetes.io/component: state
  annotations:
    helm.sh/resource-policy: keep
{{- end -}}
{{- end -}}
