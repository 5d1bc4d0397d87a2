{{/* Names, labels and the parts every pod shares. */}}

{{- define "controlplane.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "controlplane.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "controlplane.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "controlplane.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "controlplane.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "controlplane.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels of one component (api, worker, migrate): call with (list $ "api"). */}}
{{- define "controlplane.selector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "controlplane.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "controlplane.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "controlplane.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "controlplane.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* The environment every controlplane process gets: settings, database URLs, Vault credentials. */}}
{{- define "controlplane.env" -}}
- name: CONTROLPLANE_DATA_DIR
  value: /var/lib/controlplane
- name: HOME
  value: /var/lib/controlplane
{{- range $name, $value := .Values.settings }}
- name: {{ printf "CONTROLPLANE_%s" (upper $name) }}
  value: {{ $value | toString | quote }}
{{- end }}
- name: CONTROLPLANE_DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ .Values.database.existingSecret | quote }}, key: {{ .Values.database.ownerUrlKey | quote }}}
- name: CONTROLPLANE_APP_DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ .Values.database.existingSecret | quote }}, key: {{ .Values.database.appUrlKey | quote }}, optional: true}
- name: CONTROLPLANE_TF_STATE_DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ .Values.database.existingSecret | quote }}, key: {{ .Values.database.stateUrlKey | quote }}, optional: true}
- name: CONTROLPLANE_VAULT_ADDR
  value: {{ required "vault.addr is required" .Values.vault.addr | quote }}
- name: CONTROLPLANE_VAULT_KV_MOUNT
  value: {{ .Values.vault.kvMount | quote }}
{{- if eq .Values.vault.auth.method "approle" }}
- name: CONTROLPLANE_VAULT_ROLE_ID_FILE
  value: /var/run/secrets/controlplane/vault/{{ .Values.vault.auth.roleIdKey }}
- name: CONTROLPLANE_VAULT_SECRET_ID_FILE
  value: /var/run/secrets/controlplane/vault/{{ .Values.vault.auth.secretIdKey }}
{{- else if eq .Values.vault.auth.method "token" }}
- name: CONTROLPLANE_VAULT_TOKEN
  valueFrom:
    secretKeyRef: {name: {{ .Values.vault.auth.existingSecret | quote }}, key: {{ .Values.vault.auth.tokenKey | quote }}}
{{- else if eq .Values.vault.auth.method "kubernetes" }}
- name: CONTROLPLANE_VAULT_KUBERNETES_ROLE
  value: {{ required "vault.auth.kubernetes.role is required" .Values.vault.auth.kubernetes.role | quote }}
- name: CONTROLPLANE_VAULT_KUBERNETES_MOUNT
  value: {{ .Values.vault.auth.kubernetes.mount | quote }}
- name: CONTROLPLANE_VAULT_KUBERNETES_TOKEN_FILE
  value: /var/run/secrets/controlplane/vault-token/token
{{- else }}
{{- fail "vault.auth.method must be approle, kubernetes or token" }}
{{- end }}
{{- if .Values.vault.caSecret }}
- name: SSL_CERT_FILE
  value: /var/run/secrets/controlplane/vault-ca/ca.crt
- name: REQUESTS_CA_BUNDLE
  value: /var/run/secrets/controlplane/vault-ca/ca.crt
{{- end }}
{{- end }}

{{/* Volumes of every pod: scratch space (the root file system is read-only) and the Vault credentials. */}}
{{- define "controlplane.volumes" -}}
- name: data
  emptyDir: {sizeLimit: {{ .Values.scratch.sizeLimit }}}
- name: tmp
  emptyDir: {sizeLimit: {{ .Values.scratch.sizeLimit }}}
{{- if eq .Values.vault.auth.method "approle" }}
- name: vault-credentials
  secret:
    secretName: {{ .Values.vault.auth.existingSecret }}
    defaultMode: 0400
    items:
      - {key: {{ .Values.vault.auth.roleIdKey }}, path: {{ .Values.vault.auth.roleIdKey }}}
      - {key: {{ .Values.vault.auth.secretIdKey }}, path: {{ .Values.vault.auth.secretIdKey }}}
{{- end }}
{{- if eq .Values.vault.auth.method "kubernetes" }}
- name: vault-token
  projected:
    defaultMode: 0400
    sources:
      - serviceAccountToken:
          path: token
          audience: {{ .Values.vault.auth.kubernetes.audience | quote }}
          expirationSeconds: {{ .Values.vault.auth.kubernetes.expirationSeconds }}
{{- end }}
{{- if .Values.vault.caSecret }}
- name: vault-ca
  secret: {secretName: {{ .Values.vault.caSecret }}}
{{- end }}
{{- end }}

{{- define "controlplane.volumeMounts" -}}
- {name: data, mountPath: /var/lib/controlplane}
- {name: tmp, mountPath: /tmp}
{{- if eq .Values.vault.auth.method "approle" }}
- {name: vault-credentials, mountPath: /var/run/secrets/controlplane/vault, readOnly: true}
{{- end }}
{{- if eq .Values.vault.auth.method "kubernetes" }}
- {name: vault-token, mountPath: /var/run/secrets/controlplane/vault-token, readOnly: true}
{{- end }}
{{- if .Values.vault.caSecret }}
- {name: vault-ca, mountPath: /var/run/secrets/controlplane/vault-ca, readOnly: true}
{{- end }}
{{- end }}

{{/* The init container of the API and worker pods: wait until the migration Job has brought the schema to head. */}}
{{- define "controlplane.waitForMigrations" -}}
- name: wait-for-migrations
  image: {{ include "controlplane.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command: ["controlplane", "db", "current", "--wait", {{ .Values.migrations.waitSeconds | quote }}]
  env:
    {{- include "controlplane.env" . | nindent 4 }}
  volumeMounts:
    {{- include "controlplane.volumeMounts" . | nindent 4 }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  resources:
    {{- toYaml .Values.migrations.resources | nindent 4 }}
{{- end }}

{{- define "controlplane.podSpecCommon" -}}
serviceAccountName: {{ include "controlplane.serviceAccountName" . }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
