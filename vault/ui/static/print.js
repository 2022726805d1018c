// Print buttons (CSP forbids inline handlers): <button data-print>.
document.querySelectorAll("[data-print]").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
});
