{{/* The runner's ServiceAccount (unless serviceAccount.create is false). */}}
{{- define "package-runner.runner-serviceaccount" -}}
{{- if .Values.serviceAccount.create -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "package-runner.serviceAccountName" . }}
  namespace: {{ include "package-runner.namespace" . }}
  labels:
    {{- include "package-runner.labels" . | nindent 4 }}
    app.kubernetes.io/component: runner
  {{- with .Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
{{- end -}}
