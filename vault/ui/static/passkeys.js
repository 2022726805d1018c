// Passkeys (WebAuthn) for Kluis: register one on the security page, log in with one.
// No inline script (strict CSP): forms carry data-passkey="register" or "login" and their URLs.
// The server speaks JSON with binary values as base64url; the browser API wants ArrayBuffers.
"use strict";

(() => {
  const supported = typeof window.PublicKeyCredential === "function" &&
    navigator.credentials && typeof navigator.credentials.create === "function";

  function toBytes(b64url) {
    const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    const padded = b64 + "=".repeat((4 - (b64.length % 4)) % 4);
    const binary = atob(padded);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toB64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 1) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function prfInputs(extensions) {
    // {prf: {eval: {first: b64url}}} -> ArrayBuffers, as the browser wants them.
    if (!extensions || !extensions.prf || !extensions.prf.eval) return extensions;
    const evaluation = { first: toBytes(extensions.prf.eval.first) };
    return { ...extensions, prf: { eval: evaluation } };
  }

  function creationOptions(json) {
    return {
      ...json,
      challenge: toBytes(json.challenge),
      user: { ...json.user, id: toBytes(json.user.id) },
      excludeCredentials: (json.excludeCredentials || []).map((c) => ({ ...c, id: toBytes(c.id) })),
      extensions: prfInputs(json.extensions),
    };
  }

  function requestOptions(json) {
    return {
      ...json,
      challenge: toBytes(json.challenge),
      allowCredentials: (json.allowCredentials || []).map((c) => ({ ...c, id: toBytes(c.id) })),
      extensions: prfInputs(json.extensions),
    };
  }

  function extensionResults(credential) {
    const results = credential.getClientExtensionResults ? credential.getClientExtensionResults() : {};
    const out = {};
    if (results.prf) {
      out.prf = { enabled: Boolean(results.prf.enabled) };
      if (results.prf.results && results.prf.results.first) {
        out.prf.results = { first: toB64url(results.prf.results.first) };
      }
    }
    return out;
  }

  function registrationJSON(credential) {
    const r = credential.response;
    return {
      id: credential.id,
      rawId: toB64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: toB64url(r.clientDataJSON),
        attestationObject: toB64url(r.attestationObject),
        transports: r.getTransports ? r.getTransports() : [],
      },
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: extensionResults(credential),
    };
  }

  function assertionJSON(credential) {
    const r = credential.response;
    return {
      id: credential.id,
      rawId: toB64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: toB64url(r.clientDataJSON),
        authenticatorData: toB64url(r.authenticatorData),
        signature: toB64url(r.signature),
        userHandle: r.userHandle ? toB64url(r.userHandle) : undefined,
      },
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: extensionResults(credential),
    };
  }

  async function post(url, form, extra) {
    const body = new URLSearchParams();
    body.set("csrf_token", form.elements.csrf_token.value);
    if (form.elements.next) body.set("next", form.elements.next.value);
    Object.entries(extra || {}).forEach(([key, value]) => body.set(key, value));
    const response = await fetch(url, {
      method: "POST", body, credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    let answer = null;
    try { answer = await response.json(); } catch (e) { answer = null; }
    // Not JSON (e.g. the session ended and the answer is the login page): say it failed.
    if (!response.ok || answer === null) {
      throw new Error((answer && answer.error) || form.dataset.cancelled);
    }
    return answer;
  }

  function showError(form, message) {
    const box = form.querySelector("[data-passkey-error]");
    if (box) { box.textContent = message; box.hidden = false; }
  }

  async function register(form) {
    const options = await post(form.dataset.optionsUrl, form);
    const created = await navigator.credentials.create({ publicKey: creationOptions(options) });
    const label = form.elements.label ? form.elements.label.value : "";
    const added = await post(form.dataset.registerUrl, form,
      { credential: JSON.stringify(registrationJSON(created)), label });
    if (added.prf_pending) {
      // The authenticator supports PRF but gives its output only on a login: ask once more,
      // for this passkey only, so it gets the key slot that opens the vault without a password.
      const request = requestOptions(await post(added.slot_options_url, form));
      request.allowCredentials = [{ type: "public-key", id: toBytes(added.credential_id) }];
      const asserted = await navigator.credentials.get({ publicKey: request });
      await post(added.slot_url, form, { credential: JSON.stringify(assertionJSON(asserted)) });
    }
    window.location.assign(added.redirect);
  }

  async function login(form) {
    const options = await post(form.dataset.optionsUrl, form);
    const asserted = await navigator.credentials.get({ publicKey: requestOptions(options) });
    const done = await post(form.dataset.loginUrl, form,
      { credential: JSON.stringify(assertionJSON(asserted)) });
    window.location.assign(done.redirect);
  }

  document.querySelectorAll("form[data-passkey]").forEach((form) => {
    const kind = form.dataset.passkey;
    if (!supported) {
      if (kind === "register" || !form.hidden) showError(form, form.dataset.unsupported);
      form.querySelectorAll("button").forEach((b) => { b.disabled = true; });
      return;
    }
    form.hidden = false;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true;
      (kind === "register" ? register(form) : login(form)).catch((error) => {
        const message = error && error.name === "NotAllowedError"
          ? form.dataset.cancelled : (error && error.message) || form.dataset.cancelled;
        showError(form, message);
        if (button) button.disabled = false;
      });
    });
  });
})();
