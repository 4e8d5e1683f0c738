// The one identity the function app uses for everything: host storage, the
// deployment package, tables, the queue, Key Vault references and telemetry.
// User-assigned, so role assignments exist before the app starts.

param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
