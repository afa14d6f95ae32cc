{{/*
The language's state ConfigMap, created empty so the runner's Role needs no `create`
(see _runner-role.tpl). It carries no `data`: pkgrun owns the keys through server-side
apply (field manager `pkgrun`), and Helm's three-way merge leaves fields it never
rendered alone on upgrade. `helm.sh/resource-policy: keep` keeps the published state
when the release is uninstalled.
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
