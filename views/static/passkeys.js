// Passkey ceremonies on Gatehouse's pages (no inline script: the pages' CSP allows only files
// from /static). A button with data-passkey="register|authenticate" belongs to a form; the
// script asks the form's data-options URL for the ceremony's options (the form's csrf field
// goes along), runs the ceremony with @simplewebauthn/browser (/static/simplewebauthn-browser.js),
// puts the browser's answer in the form's `credential` field and submits the form, so that the
// server answers with an ordinary page or redirect. A form with data-passkey-autofill offers the
// person's passkeys in the email field's autofill (conditional mediation) where the browser can.
(function () {
  'use strict';
  var lib = window.SimpleWebAuthnBrowser;

  function say(form, text) {
    var status = form.querySelector('[data-passkey-status]');
    if (status) status.textContent = text;
  }

  function fetchOptions(form) {
    var csrf = form.querySelector('input[name="csrf"]');
    return fetch(form.getAttribute('data-options'), {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: 'csrf=' + encodeURIComponent(csrf ? csrf.value : ''),
    }).then(function (res) {
      if (!res.ok) throw new Error('options refused');
      return res.json();
    });
  }

  function submitWith(form, answer) {
    form.querySelector('input[name="credential"]').value = JSON.stringify(answer);
    form.submit();
  }

  function run(form, kind, autofill) {
    return fetchOptions(form).then(function (options) {
      return kind === 'register'
        ? lib.startRegistration({ optionsJSON: options })
        : lib.startAuthentication({ optionsJSON: options, useBrowserAutofill: autofill });
    }).then(function (answer) {
      submitWith(form, answer);
    });
  }

  var forms = document.querySelectorAll('form[data-passkey]');
  if (!lib || !lib.browserSupportsWebAuthn()) {
    forms.forEach(function (form) {
      say(form, 'This browser cannot use passkeys.');
      var button = form.querySelector('button');
      if (button) button.disabled = true;
    });
    return;
  }
  forms.forEach(function (form) {
    var kind = form.getAttribute('data-passkey');
    form.addEventListener('submit', function (event) {
      if (form.querySelector('input[name="credential"]').value) return;
      event.preventDefault();
      var name = form.querySelector('input[name="name"]');
      if (name && !name.reportValidity()) return;
      say(form, 'Waiting for your passkey…');
      run(form, kind, false).catch(function () {
        say(form, 'The passkey was not used. Try again, or choose another way.');
      });
    });
    if (form.hasAttribute('data-passkey-autofill') && lib.browserSupportsWebAuthnAutofill) {
      lib.browserSupportsWebAuthnAutofill().then(function (supported) {
        if (supported) run(form, kind, true).catch(function () {});
      });
    }
  });
})();
