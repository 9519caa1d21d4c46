{{/* The bot container's environment. Tokens come from the existing Secret by reference only. */}}
{{- define "codex-bot.secretEnv" -}}
- name: {{ .key }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .key }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end }}

{{- define "codex-bot.env" -}}
{{- $root := .root }}
{{- $secret := .secret }}
- name: PORT
  value: {{ $root.Values.containerPort | quote }}
- name: CODEX_BOT_CONFIG
  value: /etc/codex-bot/codex-bot.yaml
- name: STATE_DIR
  value: {{ include "codex-bot.stateDir" $root }}
{{ include "codex-bot.secretEnv" (dict "secret" $secret "key" "SLACK_BOT_TOKEN") }}
{{- if $root.Values.slack.socketMode }}
{{ include "codex-bot.secretEnv" (dict "secret" $secret "key" "SLACK_APP_TOKEN") }}
{{ include "codex-bot.secretEnv" (dict "secret" $secret "key" "SLACK_SIGNING_SECRET" "optional" true) }}
{{- else }}
{{ include "codex-bot.secretEnv" (dict "secret" $secret "key" "SLACK_SIGNING_SECRET") }}
{{- end }}
{{ include "codex-bot.secretEnv" (dict "secret" $secret "key" "GITHUB_TOKEN" "optional" true) }}
{{- if eq $root.Values.database.type "external" }}
{{ include "codex-bot.secretEnv" (dict "secret" $secret "key" "DATABASE_URL") }}
{{- end }}
{{- with $root.Values.slack.apiUrl }}
- name: SLACK_API_URL
  value: {{ . | quote }}
{{- end }}
{{- with $root.Values.github.apiUrl }}
- name: GITHUB_API_URL
  value: {{ . | quote }}
{{- end }}
{{- with $root.Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}
