{{/*
The runner: one Helm *test* Job running `pkgrun <job.args>` (by default `pkgrun run
<language>`). Helm creates it on `helm test` (helmfile runs the tests after sync), and
`before-hook-creation` deletes the previous run's Job first, so re-running a layer needs
no manual delete. The Job is kept after it ends so `pkgrun layer` can harvest its pod
logs by label query (app.kubernetes.io/instance + app.kubernetes.io/component=runner).

Credentials only arrive through `envFrom` the existing Secret `envSecretName`; this
template never renders a credential. The root filesystem is read-only: pkgrun builds in
copies under $TMPDIR (an emptyDir at /tmp) and writes state into the emptyDir at
/workspace/tmp/tilt-packages.

Who holds the service-account token: nobody in the runner. The runner runs third-party code
(build backends, lifecycle scripts, the published package), so it is an *init container*
of a pod with `automountServiceAccountToken: false` and no token volume. Only when it
passed does the `state-push` container start: it mounts a projected, short-lived token
(expirationSeconds `statePush.tokenExpirationSeconds`) with the cluster CA and the
namespace, exactly where the automounted one would be, reads the state emptyDir read-only
and runs `pkgrun state push <language>` (no registry credentials: no envFrom).
*/}}
{{- define "package-runner.runner-job" -}}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "package-runner.jobName" . }}
  namespace: {{ include "package-runner.namespace" . }}
  labels:
    {{- include "package-runner.labels" . | nindent 4 }}
    app.kubernetes.io/component: runner
  annotations:
    helm.sh/hook: test
    helm.sh/hook-delete-policy: before-hook-creation
    helm.sh/hook-output-log-policy: hook-succeeded,hook-failed
spec:
  backoffLimit: 0
  activeDeadlineSeconds: {{ .Values.job.activeDeadlineSeconds }}
  {{- if not (kindIs "invalid" .Values.job.ttlSecondsAfterFinished) }}
  ttlSecondsAfterFinished: {{ .Values.job.ttlSecondsAfterFinished }}
  {{- end }}
  template:
    metadata:
      labels:
        {{- include "package-runner.labels" . | nindent 8 }}
        app.kubernetes.io/component: runner
    spec:
      restartPolicy: Never
      serviceAccountName: {{ include "package-runner.serviceAccountName" . }}
      # No token for the runner: only the state-push container mounts one (below).
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: {{ .Values.job.runAsUser }}
        runAsGroup: {{ .Values.job.runAsUser }}
        fsGroup: {{ .Values.job.runAsUser }}
        seccompProfile:
          type: RuntimeDefault
      {{- with .Values.job.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.job.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      initContainers:
        - name: runner
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          workingDir: /workspace
          command:
            {{- toYaml .Values.job.command | nindent 12 }}
          args:
            {{- toYaml .Values.job.args | nindent 12 }}
          envFrom:
            - secretRef:
                name: {{ .Values.envSecretName }}
          env:
            - name: PKGRUN_CONFIG
              value: /workspace/pkgrun.toml
            # A read-only root filesystem: every tool's home, cache and scratch is /tmp.
            - name: HOME
              value: /tmp
            - name: TMPDIR
              value: /tmp
            - name: XDG_CACHE_HOME
              value: /tmp/.cache
            {{- range $name, $value := .Values.job.env }}
            - name: {{ $name }}
              value: {{ $value | quote }}
            {{- end }}
          {{- with .Values.job.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: {{ .Values.job.readOnlyRootFilesystem }}
            capabilities:
              drop:
                - ALL
          volumeMounts:
            - name: state
              mountPath: /workspace/tmp/tilt-packages
            - name: tmp
              mountPath: /tmp
      containers:
        - name: state-push
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          workingDir: /workspace
          command: ["pkgrun"]
          args: ["state", "push", {{ .Values.language | quote }}]
          env:
            - name: PKGRUN_CONFIG
              value: /workspace/pkgrun.toml
            - name: PKGRUN_CONFIGMAP
              value: {{ .Values.stateConfigMap | quote }}
            - name: PKGRUN_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
            - name: HOME
              value: /tmp
          {{- with .Values.statePush.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop:
                - ALL
          volumeMounts:
            - name: state
              mountPath: /workspace/tmp/tilt-packages
              readOnly: true
            - name: service-account-token
              mountPath: /var/run/secrets/kubernetes.io/serviceaccount
              readOnly: true
      volumes:
        - name: service-account-token
          projected:
            sources:
              - serviceAccountToken:
                  path: token
                  expirationSeconds: {{ .Values.statePush.tokenExpirationSeconds }}
              - configMap:
                  name: kube-root-ca.crt
                  items:
                    - key: ca.crt
                      path: ca.crt
              - downwardAPI:
                  items:
                    - path: namespace
                      fieldRef:
                        fieldPath: metadata.namespace
        - name: state
          emptyDir:
            sizeLimit: {{ .Values.job.stateSizeLimit }}
        - name: tmp
          emptyDir:
            sizeLimit: {{ .Values.job.tmpSizeLimit }}
{{- end -}}
