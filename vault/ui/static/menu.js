// The menu button on small screens (CSP forbids inline scripts). Loaded in <head>: it
// marks the page at once, so a phone never shows the open menu first. Without
// JavaScript the button stays hidden and the whole menu shows (it wraps, never scrolls).
document.documentElement.classList.add("js-menu");
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("menu-button");
  const menu = document.getElementById("site-menu");
  if (!button || !menu) return;
  const set = (open) => {
    button.setAttribute("aria-expanded", String(open));
    menu.classList.toggle("open", open);
  };
  button.addEventListener("click", () => set(button.getAttribute("aria-expanded") !== "true"));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
      set(false);
      button.focus();
    }
  });
});
