{{/* Names and labels shared by every template. */}}

{{- define "iam-credential-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release name, plus the chart name unless the release name contains it. */}}
{{- define "iam-credential-exporter.fullname" -}}
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

{{- define "iam-credential-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "iam-credential-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "iam-credential-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: exporter
{{- end -}}

{{- define "iam-credential-exporter.labels" -}}
helm.sh/chart: {{ include "iam-credential-exporter.chart" . }}
{{ include "iam-credential-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: aws-iam-credential-exporter
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "iam-credential-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "iam-credential-exporter.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "iam-credential-exporter.image" -}}
{{- $image := .Values.image -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default .Chart.AppVersion $image.tag) -}}
{{- end -}}
{{- end -}}

{{/* true when the pods run as a sharded StatefulSet. */}}
{{- define "iam-credential-exporter.sharded" -}}
{{- if gt (int .Values.sharding.replicas) 1 }}true{{ end -}}
{{- end -}}

{{/* The Secret holding the web config file, or nothing without one. */}}
{{- define "iam-credential-exporter.webConfigSecret" -}}
{{- if .Values.webConfig.enabled -}}
{{- default (printf "%s-web-config" (include "iam-credential-exporter.fullname" .)) .Values.webConfig.existingSecret -}}
{{- end -}}
{{- end -}}

{{/* https when the exporter serves TLS (webConfig.tls, or a cert_file in webConfig.config:
an empty tls_server_config means plain HTTP), else http. */}}
{{- define "iam-credential-exporter.scheme" -}}
{{- $web := .Values.webConfig -}}
{{- $inlineTLS := and (not $web.existingSecret) (dig "tls_server_config" "cert_file" "" $web.config) -}}
{{- if and $web.enabled (or $web.tls $inlineTLS) -}}
https
{{- else -}}
http
{{- end -}}
{{- end -}}

{{/* A DNS-1123 label from a generated file's name, as generate.py names the kustomize
objects: aws-iam-alerts.rules.yml -> aws-iam-alerts. */}}
{{- define "iam-credential-exporter.namePart" -}}
{{- $stem := regexReplaceAll "\\..*$" (base .) "" | lower -}}
{{- regexReplaceAll "[^a-z0-9-]+" $stem "-" | trimAll "-" -}}
{{- end -}}

{{/* Paths inside the container. */}}
{{- define "iam-credential-exporter.configDir" -}}/etc/iam-credential-exporter{{- end -}}
{{- define "iam-credential-exporter.webConfigDir" -}}/etc/iam-credential-exporter-web{{- end -}}
{{- define "iam-credential-exporter.stateDir" -}}/var/lib/iam-credential-exporter{{- end -}}

{{/* A map as "key=value, key=value" (in NOTES.txt). */}}
{{- define "iam-credential-exporter.pairs" -}}
{{- $pairs := list -}}
{{- range $key, $value := . -}}
{{- $pairs = append $pairs (printf "%s=%s" $key $value) -}}
{{- end -}}
{{- join ", " $pairs -}}
{{- end -}}
