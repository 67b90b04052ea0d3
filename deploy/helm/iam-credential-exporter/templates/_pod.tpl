{{/* The pod template of the Deployment and of the sharded StatefulSet. */}}
{{- define "iam-credential-exporter.podTemplate" -}}
{{- $sharded := include "iam-credential-exporter.sharded" . -}}
{{- $webSecret := include "iam-credential-exporter.webConfigSecret" . -}}
{{- $scheme := include "iam-credential-exporter.scheme" . -}}
metadata:
  labels:
    {{- include "iam-credential-exporter.labels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # A changed configuration or web config rolls the pods.
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- if and $webSecret (not .Values.webConfig.existingSecret) }}
    checksum/web-config: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "iam-credential-exporter.serviceAccountName" . }}
  # The exporter never calls the Kubernetes API; IRSA's projected token does not need this.
  automountServiceAccountToken: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with .Values.podSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: exporter
      image: {{ include "iam-credential-exporter.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      {{- if or $sharded .Values.env }}
      env:
        {{- if $sharded }}
        # The pod ordinal (pod NAME-2 -> 2), set on StatefulSet pods by Kubernetes 1.28+.
        - name: SHARD_INDEX
          valueFrom:
            fieldRef:
              fieldPath: metadata.labels['apps.kubernetes.io/pod-index']
        {{- end }}
        {{- with .Values.env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      {{- with .Values.envFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      args:
        - serve
        - --config={{ include "iam-credential-exporter.configDir" . }}/config.yml
        - --state.dir={{ include "iam-credential-exporter.stateDir" . }}
        {{- if $webSecret }}
        - --web.config.file={{ include "iam-credential-exporter.webConfigDir" . }}/{{ .Values.webConfig.secretKey }}
        {{- end }}
        {{- if $sharded }}
        # $(SHARD_INDEX) is expanded by the kubelet, no shell involved.
        - --shard.index=$(SHARD_INDEX)
        - --shard.count={{ int .Values.sharding.replicas }}
        {{- end }}
        {{- with .Values.extraArgs }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        - name: http-metrics
          containerPort: 10063
          protocol: TCP
      livenessProbe:
        httpGet:
          path: /-/healthy
          port: http-metrics
          {{- if eq $scheme "https" }}
          scheme: HTTPS
          {{- end }}
        {{- toYaml .Values.livenessProbe | nindent 8 }}
      readinessProbe:
        httpGet:
          path: /-/ready
          port: http-metrics
          {{- if eq $scheme "https" }}
          scheme: HTTPS
          {{- end }}
        {{- toYaml .Values.readinessProbe | nindent 8 }}
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.securityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        - name: config
          mountPath: {{ include "iam-credential-exporter.configDir" . }}
          readOnly: true
        - name: state
          mountPath: {{ include "iam-credential-exporter.stateDir" . }}
        - name: tmp
          mountPath: /tmp
        {{- if $webSecret }}
        - name: web-config
          mountPath: {{ include "iam-credential-exporter.webConfigDir" . }}
          readOnly: true
        {{- end }}
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "iam-credential-exporter.fullname" . }}-config
    {{- if not $sharded }}
    - name: state
      {{- if .Values.persistence.enabled }}
      persistentVolumeClaim:
        claimName: {{ default (printf "%s-state" (include "iam-credential-exporter.fullname" .)) .Values.persistence.existingClaim }}
      {{- else }}
      # Survives container restarts; persistence.enabled keeps it on a volume claim.
      emptyDir: {}
      {{- end }}
    {{- end }}
    - name: tmp
      emptyDir:
        medium: Memory
        sizeLimit: 16Mi
    {{- if $webSecret }}
    - name: web-config
      secret:
        secretName: {{ $webSecret }}
    {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
