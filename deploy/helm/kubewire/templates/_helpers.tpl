{{- define "kubewire.name" -}}{{ .Release.Name }}-kubewire{{- end -}}
{{- define "kubewire.labels" -}}
app.kubernetes.io/name: kubewire
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
{{- define "kubewire.selector" -}}
app.kubernetes.io/name: kubewire
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
