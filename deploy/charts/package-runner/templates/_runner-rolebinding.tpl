{{/* Binds the runner's Role to its ServiceAccount. */}}
{{- define "package-runner.runner-rolebinding" -}}
{{- if .Values.rbac.create -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ include "package-runner.roleName" . }}
  namespace: {{ include "package-runner.namespace" . }}
  labels:
    {{- include "package-runner.labels" . | nindent 4 }}
    app.kubernetes.io/component: runner
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ include "package-runner.roleName" . }}
subjects:
  - kind: ServiceAccount
    name: {{ include "package-runner.serviceAccountName" . }}
    namespace: {{ include "package-runner.namespace" . }}
{{- end -}}
{{- end -}}
