{{/*
Names and labels shared by every object of a package-* chart. Labels come only from
here: `package-runner.labels` includes `package-runner.selectorLabels`, so a selector
written from the latter always matches objects labelled with the former.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "package-runner.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The release-qualified name: fullnameOverride, else the release name when it already
contains the chart name (release `package-go` of chart `package-go` -> `package-go`),
else `<release>-<chart>`. Truncated to 63 characters (a DNS label).
*/}}
{{- define "package-runner.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* `<chart>-<version>` for the helm.sh/chart label ('+' is not allowed in a label value). */}}
{{- define "package-runner.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The namespace every object goes to: values.namespace, else the release namespace. */}}
{{- define "package-runner.namespace" -}}
{{- default .Release.Namespace .Values.namespace -}}
{{- end -}}

{{/* Labels a selector may use (stable across upgrades). */}}
{{- define "package-runner.selectorLabels" -}}
app.kubernetes.io/name: {{ include "package-runner.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Every object's labels. */}}
{{- define "package-runner.labels" -}}
helm.sh/chart: {{ include "package-runner.chart" . }}
{{ include "package-runner.selectorLabels" . }}
{{- with .Chart.AppVersion }}
app.kubernetes.io/version: {{ . | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: pkgrun
{{- end -}}

{{/* The ServiceAccount the Job runs as. */}}
{{- define "package-runner.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (printf "%s-runner" (include "package-runner.fullname" .)) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Role and RoleBinding name. */}}
{{- define "package-runner.roleName" -}}
{{- printf "%s-state-writer" (include "package-runner.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The Job name. */}}
{{- define "package-runner.jobName" -}}
{{- printf "%s-runner" (include "package-runner.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
