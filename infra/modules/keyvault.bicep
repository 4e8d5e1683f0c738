// Key Vault holds the stream-token signing key (and, during a rotation, the
// previous key). The app reads them through Key Vault references resolved with
// its user-assigned identity; the identity may read only these secrets.

param name string
param location string
param tags object

@secure()
param signingKey string

@secure()
@description('Empty except during a key rotation.')
param previousSigningKey string = ''

var hasPreviousSigningKey = !empty(previousSigningKey) // a rotation is under way

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }
}

resource signingKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'stream-token-signing-key'
  properties: {
    value: signingKey
    contentType: 'text/plain'
  }
}

resource previousKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (hasPreviousSigningKey) {
  parent: vault
  name: 'stream-token-previous-key'
  properties: {
    value: previousSigningKey
    contentType: 'text/plain'
  }
}

output name string = vault.name
// Version-less URIs: the platform picks up a new secret version by itself, but only on its
// daily refetch; after a rotation, refresh the references (infra/README.md, "Rotating").
output signingKeySecretUri string = signingKeySecret.properties.secretUri
output previousKeySecretUri string = hasPreviousSigningKey ? previousKeySecret.properties.secretUri : ''
