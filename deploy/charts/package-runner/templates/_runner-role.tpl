{{/*
The runner's Role: one rule, the language's state ConfigMap only (resourceNames), verbs
get, create and patch — what pkgrun's ConfigMap sink does: `get` (the 1 MiB size check
before writing) and server-side apply, a PATCH that creates the ConfigMap when it does
not exist yet.

On `create` and resourceNames: a POST create is authorized before the object has a name,
so a resourceNames rule never allows one — this SA cannot create ConfigMaps by POST at
all. Server-side apply is different: for a PATCH that creates, the API server authorizes
verb `create` WITH the object's name (k8s.io/apiserver, endpoints/handlers/patch.go,
createAuthorizerAttributes), so `create` here is limited to the state ConfigMap. No
broader rule is needed. See docs/charts.md "RBAC".
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
    verbs: ["get", "create", "patch"]
{{- end -}}
{{- end -}}
