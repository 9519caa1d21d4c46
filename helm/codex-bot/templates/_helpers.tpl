{{/* Names and labels shared by every template. */}}

{{- define "codex-bot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "codex-bot.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "codex-bot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "codex-bot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "codex-bot.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "codex-bot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: codex-bot
{{- end }}

{{- define "codex-bot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "codex-bot.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "codex-bot.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The config file: .Values.config with `namespace` forced to the workflows namespace,
so the bot acts exactly where its Role grants rights. */}}
{{- define "codex-bot.configYaml" -}}
{{- $config := deepCopy .Values.config }}
{{- $_ := set $config "namespace" .Values.namespace }}
{{- toYaml $config }}
{{- end }}

{{/* Names the Role restricts with resourceNames; defaults mirror config/settings.py. */}}
{{- define "codex-bot.flagConfigMap" -}}
{{- dig "submissions" "flag_configmap" "codex-bot-flags" .Values.config }}
{{- end }}

{{- define "codex-bot.watcherLease" -}}
{{- dig "watcher" "lease_name" "codex-bot-watcher" .Values.config }}
{{- end }}

{{- define "codex-bot.stateDir" -}}
/var/lib/codex-bot
{{- end }}

{{- define "codex-bot.validate" -}}
{{- if and (eq .Values.database.type "sqlite") (gt (int .Values.replicaCount) 1) }}
{{- fail "replicaCount > 1 needs database.type=external (DATABASE_URL in existingSecret): SQLite is a single file on a ReadWriteOnce volume and cannot be shared by several pods" }}
{{- end }}
{{- if and .Values.ingress.enabled .Values.slack.socketMode }}
{{- fail "ingress.enabled is for HTTP mode; with slack.socketMode=true Slack is reached over an outbound WebSocket and nothing needs to be exposed" }}
{{- end }}
{{- end }}
