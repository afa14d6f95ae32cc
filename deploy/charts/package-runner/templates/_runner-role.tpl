{{/*
The runner's Role: read and patch ONE ConfigMap, the language's state ConfigMap.

RBAC cannot limit `create` by resourceNames (a create request carries no object name
when it is authorized, so a resourceNames rule never matches it). Rather than grant
create on every ConfigMap of the namespace, the chart creates the state ConfigMap
itself (state-configmap, kept on uninstall) and the runner only needs `get` (the size
check before writing) and `patch` (server-side apply) on that name. A cluster where the
chart must not own the ConfigMap sets rbac.createStateConfigMap=false and
rbac.allowCreateAnyConfigMap=true, which adds a separate, broader `create` rule; that
trade-off is documented in docs/charts.md.
*/}}
{{- define "package-runner.runner-role" -}}
{{- if .Values.rbac.create -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ include "package-runner.roleName" . }}
  namespace: {{ include "package-runner.namespace" . }}
  labels:
    {{- include "package-runner.labels" . | nindent 4 }}
    app.kubernetes.io/component: runner
rules:
  - apiGroups: [""]
    resources: ["configmaps"]
    resourceNames: [{{ .Values.stateConfigMap | quote }}]
    verbs: ["get", "patch"]
  {{- if .Values.rbac.allowCreateAnyConfigMap }}
  # Broader on purpose (rbac.allowCreateAnyConfigMap): create cannot be limited by name.
  - apiGroups: [""]
    resources: ["configmaps"]
    verbs: ["create"]
  {{- end }}
{{- end -}}
{{- end -}}
