// Optional cost alert: a monthly budget on the resource group, with e-mail
// alerts at 80% (actual) and 100% (forecast). Deployed only when contacts are given.

param name string
param amount int
param contactEmails array

// yyyy-MM-01 exactly: a budget asked for without its date fails validation here, naming
// this parameter, rather than somewhere inside the Consumption API.
@minLength(10)
@maxLength(10)
@description('First day of the budget period (yyyy-MM-01). ARM refuses to change it once the budget exists: pass the same date on every deployment.')
param startDate string

resource budget 'Microsoft.Consumption/budgets@2023-11-01' = {
  name: name
  properties: {
    category: 'Cost'
    amount: amount
    timeGrain: 'Monthly'
    timePeriod: {
      startDate: startDate
    }
    notifications: {
      actual80: {
        enabled: true
        operator: 'GreaterThanOrEqualTo'
        threshold: 80
        thresholdType: 'Actual'
        contactEmails: contactEmails
      }
      forecast100: {
        enabled: true
        operator: 'GreaterThanOrEqualTo'
        threshold: 100
        thresholdType: 'Forecasted'
        contactEmails: contactEmails
      }
    }
  }
}
